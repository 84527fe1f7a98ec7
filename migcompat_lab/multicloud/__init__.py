"""The multi-process cloud (issue 12): real services, one machine.

This package holds its infrastructure half: MariaDB and RabbitMQ from the
Debian packages, Keystone and Placement under gunicorn, and stand-ins for
the image and network services, each a separate OS process on 127.0.0.1
(``infra.Infra``; ``python -m migcompat_lab.multicloud infra``).  See
``doc/source/multicloud.rst``.
"""
