"""Layer 7, beside ``report``: the labs' exercises and their self-checks.

The student's answer is checked against the kit's reference on this machine, with a hint and
the lecture section to reread; an unfinished exercise falls back to the reference result, so
the lab goes on and says so.
"""
