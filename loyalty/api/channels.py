"""M-Pesa channels: CRUD, onboarding steps with Safaricom, bulk export and import."""

from flask import jsonify
from flask_smorest import Blueprint

from loyalty import ratelimits
from loyalty.ratelimits import limited
from loyalty.schemas.base import PageArgsSchema
from loyalty.schemas.channels import (
    ChannelAnswerSchema,
    ChannelCreateSchema,
    ChannelExportPageSchema,
    ChannelImportSchema,
    ChannelPageSchema,
    ChannelSchema,
    ChannelUpdateSchema,
    RegisterUrlsSchema,
    RegistrationResultSchema,
    VerificationResultSchema,
    WaitArgsSchema,
)
from loyalty.schemas.payments import (
    PaymentRequestSchema,
    ResolveArgsSchema,
    ResolveSchema,
    StkPushSchema,
)
from loyalty.schemas.reconciliation import (
    PullRegisterSchema,
    PullRegistrationResultSchema,
    ReconcileSchema,
    RunEnvelopeSchema,
)
from loyalty.services import (
    callback_tokens,
    channel_setup,
    channel_transfer,
    pages,
    payments,
    reconciliation,
    sandbox_sharing,
    stk,
)
from loyalty.services import channels as service

blp = Blueprint("channels", __name__, url_prefix="/api/v1/mpesa-channels",
                description="The merchant's PayBill, Till and Buy Goods channels")


@blp.route("", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, ChannelPageSchema)
def list_channels(args):
    """List the merchant's channels, oldest first (credentials masked).

    `is_primary` marks the primary channel; archived channels are left out."""
    return service.channel_page(**args)


@blp.route("", methods=["POST"])
@blp.arguments(ChannelCreateSchema)
@blp.response(201, ChannelSchema)
def create(data):
    """Add a channel; it is `configured` once consumer key and secret are present."""
    return service.create_channel(data)


@blp.route("/export", methods=["GET"])
@blp.response(200, ChannelExportPageSchema)
def export():
    """Export every channel's configuration, without any secret.

    Always one page (`next_cursor` null): the items are what POST /mpesa-channels/import
    takes as `channels`, once their credentials are added."""
    return pages.whole(service.list_channels())


@blp.route("/import", methods=["POST"])
@blp.arguments(ChannelImportSchema)
@blp.response(201, ChannelPageSchema)
def import_channels(data):
    """Create many channels at once: all of them, or none (errors listed per row).

    The answer lists the channels created, as one page. A row's error is named by its
    position: `channels.2.shortcode`."""
    return pages.whole(channel_transfer.import_channels(data["channels"]))


@blp.route("/<int:channel_id>", methods=["GET"])
@blp.response(200, ChannelSchema)
def get(channel_id):
    return service.get_channel(channel_id)


@blp.route("/<int:channel_id>", methods=["PATCH"])
@blp.arguments(ChannelUpdateSchema)
@blp.response(200, ChannelSchema)
def update(changes, channel_id):
    """Change a channel; a changed credential sends it back to `configured` and inactive."""
    return service.update_channel(channel_id, changes)


@blp.route("/<int:channel_id>", methods=["DELETE"])
@blp.response(204)
def archive(channel_id):
    """Archive the channel (its payments stay)."""
    service.archive_channel(channel_id)


@blp.route("/<int:channel_id>/verify", methods=["POST"])
@limited(ratelimits.verify)
@blp.arguments(WaitArgsSchema, location="query")
@blp.response(202, ChannelAnswerSchema)
@blp.alt_response(200, schema=VerificationResultSchema,
                  description="`?wait=N` and the worker finished: the verification result")
def verify(args, channel_id):
    """Ask Safaricom whether the credentials work (done by a worker); at most
    RATE_LIMIT_CHANNEL_STEPS (10 a minute) per channel."""
    channel_setup.request_verification(channel_id)
    return _step_answer(channel_id, "verification", args["wait"])


@blp.route("/<int:channel_id>/register-urls", methods=["POST"])
@limited(ratelimits.register_urls)
@blp.arguments(WaitArgsSchema, location="query")
@blp.arguments(RegisterUrlsSchema)
@blp.response(202, ChannelAnswerSchema)
@blp.alt_response(200, schema=RegistrationResultSchema,
                  description="`?wait=N` and the worker finished: the registration result")
def register_urls(args, body, channel_id):
    """Register the C2B validation and confirmation URLs (the platform's own by default);
    at most RATE_LIMIT_CHANNEL_STEPS (10 a minute) per channel."""
    channel_setup.request_url_registration(channel_id, **body)
    warnings = sandbox_sharing.registration_warnings(channel_id)
    return _step_answer(channel_id, "urls", args["wait"], warnings)


@blp.route("/<int:channel_id>/rotate-callback-token", methods=["POST"])
@limited(ratelimits.rotate_callback_token)
@blp.arguments(WaitArgsSchema, location="query")
@blp.response(202, ChannelAnswerSchema,
              description="A new token; the URLs are being registered again")
@blp.alt_response(200, schema=RegistrationResultSchema,
                  description="No URLs to register again (then the body is the channel), or "
                  "`?wait=N` and the worker finished (the registration result)")
def rotate_callback_token(args, channel_id):
    """Issue a new callback token and register the C2B URLs again (done by a worker).

    The previous token keeps routing callbacks for CALLBACK_TOKEN_GRACE_HOURS (72 by
    default; `callback_urls.previous_token_expires_at` says until when). At most
    RATE_LIMIT_CHANNEL_STEPS (10 a minute) per channel."""
    channel, registering = callback_tokens.rotate_callback_token(channel_id)
    if not registering:
        return jsonify(ChannelAnswerSchema().dump(_Answer(channel))), 200
    return _step_answer(channel_id, "urls", args["wait"])


@blp.route("/<int:channel_id>/activate", methods=["POST"])
@blp.response(200, ChannelSchema)
def activate(channel_id):
    """Start crediting payments; needs a verified channel with registered URLs."""
    return channel_setup.activate_channel(channel_id)


@blp.route("/<int:channel_id>/deactivate", methods=["POST"])
@blp.response(200, ChannelSchema)
def deactivate(channel_id):
    return channel_setup.deactivate_channel(channel_id)


@blp.route("/<int:channel_id>/pull/register", methods=["POST"])
@limited(ratelimits.pull_register)
@blp.arguments(WaitArgsSchema, location="query")
@blp.arguments(PullRegisterSchema)
@blp.response(202, ChannelAnswerSchema)
@blp.alt_response(200, schema=PullRegistrationResultSchema,
                  description="`?wait=N` and the worker finished: the registration result")
def register_pull(args, body, channel_id):
    """Register the channel's shortcode for Pull Transactions (reconciliation)."""
    reconciliation.request_pull_registration(channel_id, body["nominated_number"])
    return _step_answer(channel_id, "pull", args["wait"])


@blp.route("/<int:channel_id>/reconcile", methods=["POST"])
@limited(ratelimits.reconcile)
@blp.arguments(WaitArgsSchema, location="query")
@blp.arguments(ReconcileSchema)
@blp.response(202, RunEnvelopeSchema)
@blp.alt_response(200, schema=RunEnvelopeSchema, description="`?wait=N` and the run finished")
def reconcile(args, body, channel_id):
    """Recover payments whose confirmation never arrived: Pull Transactions over a window
    of at most 48 hours within the last 48 (default: the last 24 hours)."""
    run = reconciliation.start_reconciliation(channel_id, **body)
    run = reconciliation.wait_for_run(run.id, args["wait"])
    return {"run": run}, 202 if run.state.value == "running" else 200


@blp.route("/<int:channel_id>/resolve", methods=["GET"])
@blp.arguments(ResolveArgsSchema, location="query")
@blp.response(200, ResolveSchema)
def resolve(args, channel_id):
    """Dry run: which program an account reference lands in, and what an amount earns."""
    return payments.resolve_account(channel_id, args["account"], args["amount"])


@blp.route("/<int:channel_id>/stk-push", methods=["POST"])
@limited(ratelimits.stk_per_phone, ratelimits.stk_per_channel)
@blp.arguments(StkPushSchema)
@blp.response(202, PaymentRequestSchema)
def stk_push(data, channel_id):
    """Prompt a customer's phone to pay (M-Pesa Express); the result arrives by callback.
    At most RATE_LIMIT_STK_PHONE (5 a minute) per phone and RATE_LIMIT_STK_CHANNEL (60 a
    minute) per channel."""
    return stk.request_stk_push(channel_id, **data)


_RESULT_SCHEMAS = {"verification": VerificationResultSchema(), "urls": RegistrationResultSchema(),
                   "pull": PullRegistrationResultSchema()}
_OUTCOMES = {"verification": channel_setup.step_outcome, "urls": channel_setup.step_outcome,
             "pull": lambda channel, step: reconciliation.pull_outcome(channel)}


class _Answer:
    """A channel with the warnings its step's answer carries (ChannelAnswerSchema)."""

    def __init__(self, channel, warnings: list[dict] | None = None) -> None:
        self._channel, self.warnings = channel, warnings or []

    def __getattr__(self, name):
        return getattr(self._channel, name)


def _step_answer(channel_id: int, step: str, wait: int, warnings: list[dict] | None = None):
    """202 with the channel while the worker runs; with ?wait=N, the result once it is done."""
    channel = channel_setup.wait_for_step(channel_id, step, wait)
    outcome = _OUTCOMES[step](channel, step)
    if outcome is None:
        return _Answer(channel, warnings), 202
    if step == "urls":
        outcome["warnings"] = warnings or []
    return jsonify(_RESULT_SCHEMAS[step].dump(outcome))
