"""Helpers shared by the transport tests."""

from normach.transport.messages import echo_reply


def echo_handler(sender, msg):
    """Answers echo with the same data."""
    return echo_reply(msg.data)
