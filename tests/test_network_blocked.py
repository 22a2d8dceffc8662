import socket
import urllib.request

import pytest


def test_inet_connections_are_refused() -> None:
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 9))
    with pytest.raises(OSError):
        url = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
        urllib.request.urlopen(url, timeout=1)
