"""Stripe-shaped API errors raised by the sandbox's business logic."""


class StripeError(Exception):
    """An error rendered as Stripe's ``{"error": {...}}`` object."""

    def __init__(
        self,
        message,
        *,
        status=400,
        type="invalid_request_error",
        code=None,
        param=None,
        decline_code=None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.decline_code = decline_code

    def to_dict(self):
        """Return the inner error object (without the ``error`` wrapper).

        Like Stripe, fields that do not apply (``code``, ``param``, ``decline_code``,
        ``doc_url``) are left out rather than sent as null.
        """
        body = {"type": self.type, "message": self.message}
        optional = {"code": self.code, "decline_code": self.decline_code, "param": self.param}
        body.update({key: value for key, value in optional.items() if value is not None})
        if self.code:
            body["doc_url"] = "https://stripe.com/docs/error-codes/" + self.code.replace("_", "-")
        return body


def missing_param(param):
    """Error for a required parameter that was not sent."""
    return StripeError(f"Missing required param: {param}.", code="parameter_missing", param=param)


def invalid_param(param, message, code=None):
    """Error for a parameter with an unacceptable value."""
    return StripeError(message, code=code, param=param)


def no_such(kind, object_id, param="id"):
    """404 ``resource_missing`` error, worded as Stripe does."""
    return StripeError(f"No such {kind}: '{object_id}'", status=404, code="resource_missing", param=param)
