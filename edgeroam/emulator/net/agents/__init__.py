"""The net agents (DESIGN.md §6): asyncio processes that move real layer tensors over the wire protocol.

`edge` (an edge server: holds layers per client, runs them, migrates them on order), `client` (uploads layers
in plan order, raises queries, records where each layer ran), `master` (sends the policy's actions as orders
and collects what the servers hold); `link` (connections that resend unacknowledged frames after a reconnect),
`compute` (running a model's layers with torch or sleeping their profiled time). Each agent module runs as a
process: ``python -m edgeroam.emulator.net.agents.edge --help``.
"""
