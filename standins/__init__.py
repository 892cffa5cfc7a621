"""Local stand-ins of Microsoft's services, over real HTTP on loopback: the Bot Framework's
identity (OpenID metadata, signing keys, an Entra token endpoint) and the Bot Connector.

The tests, the benchmark and the local stack share them, as they share `sandbox/` for
ContextSMS. They follow the remote contracts; they are never used by the production path.
"""
