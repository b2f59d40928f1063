// WebSocket module: an RFC 6455 client and server over POSIX TCP sockets, with TLS (OpenSSL)
// for wss://. Design notes: docs/WEBSOCKET.md. Entry points: WebSocketClient.connect,
// WebSocketServer, WebSocketConnection.
