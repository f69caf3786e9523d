"""Text-to-112: SMS and WhatsApp conversations that ring on the console like calls."""
