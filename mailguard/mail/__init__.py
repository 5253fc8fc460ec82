"""Reading logged mail: any supported input to one ``Message`` record per message.

``read_messages(path)`` is the entry point; ``iter_inputs(patterns)`` expands
command-line globs; ``message_context(msg, org_domains)`` gives direction and
bulk status from headers.
"""

from mailguard.mail.context import MessageContext, message_context
from mailguard.mail.inputs import iter_inputs
from mailguard.mail.message import Message, content_digest, synthetic_message_id
from mailguard.mail.quoting import split_quoted_reply
from mailguard.mail.readers import parse_message_bytes, read_messages

__all__ = [
    "Message",
    "MessageContext",
    "content_digest",
    "iter_inputs",
    "message_context",
    "parse_message_bytes",
    "read_messages",
    "split_quoted_reply",
    "synthetic_message_id",
]
