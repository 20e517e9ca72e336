"""Local stand-ins that speak the real services' protocols (HTTP servers on 127.0.0.1)."""
