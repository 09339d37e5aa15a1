"""Senders: dispatch the outbox (`journeys.send_queue`) over SMTP and HTTP and record every outcome.

`outbox.dispatch_due` is the entry point the CLI and Dagster share; `protocol` is the contract each transport
module (`smtp`, `webhook`, `http_api`) implements; `loopback` holds local receivers for tests and the demo.
"""
