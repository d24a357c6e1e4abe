"""How rendered requests leave the gateway: HTTP (httpx), MQTT (aiomqtt), SMTP (aiosmtplib)."""
