//! BRAiN WebSocket client (skeleton).
