"""The scripted Messages server: a loopback server speaking the Anthropic Messages API from a
script of turns, for the offline demo, the tests and the benchmarks.

server.py serves it (the format is described in its docstring); script.py holds the script
format as pydantic models and loads scripts. Imported only when a script is used.
"""
