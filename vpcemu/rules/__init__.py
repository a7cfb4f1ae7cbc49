"""AWS's rules, one module per resource kind (as model/ is), each written once.

A rule is a pure function: it returns the value in AWS's normal form, or raises UsageError with
AWS's error code, a message and a hint. The loader files a refusal under the YAML path it came from
and goes on collecting; a live op lets the first one propagate, so a refused call changes nothing.
"""
