"""User alert rules per API key: conditions on live data, evaluated as it arrives, delivered over the WebSocket
and by signed webhook, stored with every firing."""
