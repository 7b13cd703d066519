"""simulate_feedback.py against a local stand-in of the router's /predict and /send-feedback."""

from __future__ import annotations

import json

import simulate_feedback


def test_sends_predictions_then_rewards(http_server, capsys):
    answer = {"data": {"names": ["user_id"], "ndarray": [[3, 1, 50, "Star Wars (1977)", 4.3]]}, "meta": {}}

    def handle(request):
        if request.path == "/predict":
            return 200, json.dumps(answer).encode()
        return 200, b'{"data":{"ndarray":[]},"meta":{}}'

    server = http_server(handle)
    assert simulate_feedback.main([server.url, "--reward", "0.5", "--count", "3", "--users", "3,4"]) == 0
    paths = [r.path for r in server.requests]
    assert paths == ["/predict", "/send-feedback"] * 3
    for predict, feedback in zip(server.requests[::2], server.requests[1::2], strict=True):
        request = json.loads(predict.body)
        assert request["data"]["ndarray"][0] in (3, 4)
        sent = json.loads(feedback.body)
        assert sent == {"request": request, "response": answer, "reward": 0.5}
    assert "sent 3 rewards of 0.5" in capsys.readouterr().out


def test_an_http_error_is_reported_without_a_traceback(http_server, capsys):
    server = http_server(lambda r: (400, b'{"status":{"info":"unknown user id 5"}}'))
    assert simulate_feedback.main([server.url, "--count", "1", "--users", "5"]) == 1
    assert "HTTP 400" in capsys.readouterr().err
