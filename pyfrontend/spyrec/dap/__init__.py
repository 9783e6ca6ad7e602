"""`spyrec dap`: a Debug Adapter Protocol server, so an editor can stop at each
change of a watched value, look at the live program, and step back.

protocol.py  the wire formats: DAP framing to the editor, JSON lines to the debuggee
server.py    the adapter: requests from the editor, one debuggee at a time
debuggee.py  the program's side: runs it under the recorder, stops at each
             change, answers questions about its live frames
"""
