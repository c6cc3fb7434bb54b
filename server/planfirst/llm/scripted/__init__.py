"""The scripted Messages server: a loopback server speaking the Anthropic Messages API from a
script of turns, for the offline demo, the tests and the benchmarks.

server.py holds the server and its command line; handler.py its HTTP endpoints (Messages, the
Models API, count_tokens); wire.py the SSE events and error bodies; cache.py token counts and the
prompt cache; expect.py a turn's checks on its request; script.py the script format as pydantic
models (described there); latency.py realistic delays. Imported only when a script is used.
"""
