"""`python -m locker_emulator` is the `openlocker-emulator` command."""

import sys

from locker_emulator.cli import main

sys.exit(main())
