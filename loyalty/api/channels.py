"""M-Pesa channels: CRUD, onboarding steps with Safaricom, bulk export and import."""

from flask import jsonify
from flask_smorest import Blueprint

from loyalty import ratelimits
from loyalty.api.openapi import conflict
from loyalty.ratelimits import limited
from loyalty.schemas.base import PageArgsSchema
from loyalty.schemas.channel_events import ChannelEventPageSchema
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
    channel_activation,
    channel_events,
    channel_setup,
    channel_transfer,
    pages,
    payments,
    reconciliation,
    sandbox_sharing,
    stk,
)
from loyalty.services import channels as service
from loyalty.services.setup_templates import new_channels

blp = Blueprint("channels", __name__, url_prefix="/api/v1/mpesa-channels",
                description="The merchant's PayBill, Till and Buy Goods channels")


@blp.route("", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, ChannelPageSchema)
def list_channels(args):
    """List the merchant's channels, oldest first (credentials masked).

    `is_primary` marks the primary channel; archived channels are left out."""
    return service.channel_page(**args)


SEED_CHANNEL = {
    "name": "Main PayBill", "shortcode": "174379", "channel_type": "paybill",
    "environment": "sandbox", "consumer_key": "merchant_provided_key",
    "consumer_secret": "merchant_provided_secret", "passkey": "merchant_provided_passkey",
    "account_mapping": {"default": "loyalty", "VIP*": "vip", "PREMIUM": "premium"}}
SHORTCODE_TAKEN = "`shortcode_taken`: the production number is connected on this platform."


@blp.route("", methods=["POST"])
@blp.arguments(ChannelCreateSchema, example=SEED_CHANNEL)
@blp.response(201, ChannelSchema)
@conflict(SHORTCODE_TAKEN)
def create(data):
    """Add an M-Pesa channel.

    A PayBill, Till or Buy Goods number with the merchant's own Daraja app credentials
    (stored encrypted, never shown again). It is `configured` once consumer key and secret
    are present; then verify it, register its URLs and activate it.

    Sent without `account_mapping` (or with only `default` → `loyalty`), it gets the
    account rules of the setup templates applied while there was no channel of its kind
    (its `created` event names them)."""
    return new_channels.create_channel(data)


@blp.route("/export", methods=["GET"])
@blp.response(200, ChannelExportPageSchema)
def export():
    """Export every channel's configuration, without any secret.

    Always one page (`next_cursor` null): the items are what POST /mpesa-channels/import
    takes as `channels`, once their credentials are added."""
    return pages.whole(service.list_channels())


@blp.route("/import", methods=["POST"])
@blp.arguments(ChannelImportSchema, example={"channels": [SEED_CHANNEL]})
@blp.response(201, ChannelPageSchema)
def import_channels(data):
    """Create many channels at once: all of them, or none (errors listed per row).

    The answer lists the channels created, as one page. A row's error is named by its
    position: `channels.2.shortcode`."""
    return pages.whole(channel_transfer.import_channels(data["channels"]))


@blp.route("/<int:channel_id>", methods=["GET"])
@blp.response(200, ChannelSchema)
def get(channel_id):
    """Show one channel.

    With each onboarding step's state (`verification`, `urls`, `pull`, `health`; a failed
    step's `error` is `{code, message}`), the platform's own `callback_urls`, and the
    credentials masked."""
    return service.get_channel(channel_id)


@blp.route("/<int:channel_id>", methods=["PATCH"])
@blp.arguments(ChannelUpdateSchema)
@blp.response(200, ChannelSchema)
@conflict(SHORTCODE_TAKEN + " Or `primary_required`: make another channel primary instead.")
def update(changes, channel_id):
    """Change a channel.

    Only the fields sent change. A changed credential sends it back to `configured` and
    inactive (verify it again); a changed number also forgets the URL registration."""
    return service.update_channel(channel_id, changes)


@blp.route("/<int:channel_id>", methods=["DELETE"])
@blp.response(204)
def archive(channel_id):
    """Archive a channel.

    It stops taking payments and leaves the lists; its payments stay. Archiving the
    primary channel makes the oldest remaining one primary."""
    service.archive_channel(channel_id)


@blp.route("/<int:channel_id>/verify", methods=["POST"])
@limited(ratelimits.verify)
@blp.arguments(WaitArgsSchema, location="query")
@blp.response(202, ChannelAnswerSchema)
@blp.alt_response(200, schema=VerificationResultSchema,
                  description="`?wait=N` and the worker finished: the verification result",
                  example={"verified": True, "status": "verified", "verification_details": {
                      "shortcode": "174379", "account_balance_accessible": False,
                      "account_balance": "not_configured",
                      "verified_at": "2024-01-15T10:30:00+00:00"}})
@conflict("`credentials_missing`: add the consumer key and secret first.")
def verify(args, channel_id):
    """Verify a channel with Safaricom.

    A worker asks Safaricom for a token with the channel's credentials (and the account
    balance when an API operator is set): 202 at once, or with `?wait=N` the result when
    it comes within N seconds (at most 10). A failure is in
    `channel.verification.error` as `{code, message}`. At most RATE_LIMIT_CHANNEL_STEPS
    (10 a minute) per channel."""
    channel_setup.request_verification(channel_id)
    return _step_answer(channel_id, "verification", args["wait"])


@blp.route("/<int:channel_id>/register-urls", methods=["POST"])
@limited(ratelimits.register_urls)
@blp.arguments(WaitArgsSchema, location="query")
@blp.arguments(RegisterUrlsSchema, example={"response_type": "Completed"})
@blp.response(202, ChannelAnswerSchema)
@blp.alt_response(200, schema=RegistrationResultSchema,
                  description="`?wait=N` and the worker finished: the registration result")
@conflict("`not_verified` (verify the channel first) or `credentials_missing`.")
def register_urls(args, body, channel_id):
    """Register the channel's C2B URLs with Safaricom.

    The platform's own per-channel URLs by default (leave the body empty): URLs are checked
    against Safaricom's rules first (422). Safaricom keeps one URL pair per shortcode: on
    a sandbox shortcode another channel of the platform uses, `warnings` says that its test
    traffic moves to this channel. A failure is in `channel.urls.error` as
    `{code, message}`. At most RATE_LIMIT_CHANNEL_STEPS (10 a minute) per channel."""
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
    """Rotate the channel's callback token.

    Issues a new token and registers the C2B URLs again (done by a worker). The previous token keeps routing callbacks for CALLBACK_TOKEN_GRACE_HOURS (72 by
    default; `callback_urls.previous_token_expires_at` says until when). At most
    RATE_LIMIT_CHANNEL_STEPS (10 a minute) per channel."""
    channel, registering = callback_tokens.rotate_callback_token(channel_id)
    if not registering:
        return jsonify(ChannelAnswerSchema().dump(_Answer(channel))), 200
    return _step_answer(channel_id, "urls", args["wait"])


@blp.route("/<int:channel_id>/activate", methods=["POST"])
@blp.response(200, ChannelSchema)
@conflict("`not_verified` or `urls_not_registered`: the step still missing.")
def activate(channel_id):
    """Activate a channel.

    Payments to it earn points from now on; needs a verified channel with registered
    URLs (409 naming the missing step). A channel with `auto_activate` (the default) does
    this by itself once both steps succeed; activating also ends a pause (`paused_at`)."""
    return channel_activation.activate_channel(channel_id)


@blp.route("/<int:channel_id>/deactivate", methods=["POST"])
@blp.response(200, ChannelSchema)
def deactivate(channel_id):
    """Pause a channel.

    Payments are still stored (kept `skipped`) but earn nothing until it is activated
    again; POST /transactions/{id}/replay credits them then. The channel stays paused
    (`paused_at`) until you activate it: auto-activation never switches it back on."""
    return channel_activation.deactivate_channel(channel_id)


@blp.route("/<int:channel_id>/events", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, ChannelEventPageSchema)
def events(args, channel_id):
    """List a channel's history, newest first.

    Created, verified (or failed), URLs registered (or failed), activated (`actor`
    `merchant`, or `auto` when auto_activate did it), deactivated, health changed (`from`,
    `to`), credentials changed (the field names, never values), callback token rotated.
    `summary` says it in words."""
    return channel_events.events_page(channel_id, **args)


@blp.route("/<int:channel_id>/pull/register", methods=["POST"])
@limited(ratelimits.pull_register)
@blp.arguments(WaitArgsSchema, location="query")
@blp.arguments(PullRegisterSchema, example={"nominated_number": "0722000111"})
@blp.response(202, ChannelAnswerSchema)
@blp.alt_response(200, schema=PullRegistrationResultSchema,
                  description="`?wait=N` and the worker finished: the registration result")
@conflict("`not_verified` or `credentials_missing`.")
def register_pull(args, body, channel_id):
    """Register the shortcode for Pull Transactions.

    Needed once per shortcode before reconciliation: Safaricom's Pull Transactions API
    answers the last 48 hours of C2B payments. A failure is in `channel.pull.error`."""
    reconciliation.request_pull_registration(channel_id, body["nominated_number"])
    return _step_answer(channel_id, "pull", args["wait"])


@blp.route("/<int:channel_id>/reconcile", methods=["POST"])
@limited(ratelimits.reconcile)
@blp.arguments(WaitArgsSchema, location="query")
@blp.arguments(ReconcileSchema, example={"from": "2026-12-01T08:00:00Z"})
@blp.response(202, RunEnvelopeSchema)
@blp.alt_response(200, schema=RunEnvelopeSchema, description="`?wait=N` and the run finished")
@conflict("`pull_not_registered` or `reconciliation_running`.")
def reconcile(args, body, channel_id):
    """Reconcile a channel now.

    Recovers payments whose confirmation never arrived: Pull Transactions over a window
    of at most 48 hours within the last 48 (default: the last 24 hours)."""
    run = reconciliation.start_reconciliation(channel_id, **body)
    run = reconciliation.wait_for_run(run.id, args["wait"])
    return {"run": run}, 202 if run.state.value == "running" else 200


@blp.route("/<int:channel_id>/resolve", methods=["GET"])
@blp.arguments(ResolveArgsSchema, location="query")
@blp.response(200, ResolveSchema)
def resolve(args, channel_id):
    """Dry-run the account mapping.

    Which program an account reference lands in (and the pattern that matched), and what
    an amount would earn there; nothing is stored."""
    return payments.resolve_account(channel_id, args["account"], args["amount"])


@blp.route("/<int:channel_id>/stk-push", methods=["POST"])
@limited(ratelimits.stk_per_phone, ratelimits.stk_per_channel)
@blp.arguments(StkPushSchema, example={"phone": "0712345678", "amount": "1000",
                                        "account_reference": "VIP001"})
@blp.response(202, PaymentRequestSchema)
@conflict("`passkey_missing`: add the channel's M-Pesa Express passkey first.")
def stk_push(data, channel_id):
    """Prompt a customer's phone to pay (M-Pesa Express).

    202 with the payment request; follow it with GET /payment-requests/{id} (the result
    arrives by callback, or by the worker's queries). At most RATE_LIMIT_STK_PHONE (5 a minute) per phone and RATE_LIMIT_STK_CHANNEL (60 a
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
