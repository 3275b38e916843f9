#!/usr/bin/env python3
"""Prints the first even port P in [20000, 30000) such that P and P+1 are both
free on 127.0.0.1 (the C baseline and a standalone writer bind a pair)."""
import socket
import sys

for p in range(20000, 30000, 2):
    try:
        a = socket.socket(); a.bind(("127.0.0.1", p))
        b = socket.socket(); b.bind(("127.0.0.1", p + 1))
        a.close(); b.close()
        print(p)
        sys.exit(0)
    except OSError:
        pass
sys.exit("free-port-pair: no two adjacent free ports in 20000-29999")
