//! BRAiN WebSocket server (skeleton).
