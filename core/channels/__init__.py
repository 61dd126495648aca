"""The shipped delivery channels, registered by :mod:`core.builtin.channels`.

===========  ==============================================================
``file``     each message as a file in the outbox directory (demos, dry runs)
``email``    SMTP through a small pool of persistent aiosmtplib connections
``webhook``  HTTP POST of a JSON body rendered from a template (IM bots, CRMs)
``sms``      an SMS gateway reached over HTTP (URL, auth header, body template)
``task``     a stored staff task (``patron tasks``), optionally announced by e-mail
===========  ==============================================================

Each channel type has a pydantic settings model (``channels: {NAME: {...}}`` in
patron.yaml); secrets are read from environment variables named there
(``password_env: PATRON_SMTP_PASSWORD``), never written in the file.
"""
