"""The web face: REST under /api, a websocket at /ws, the browser app at /."""
