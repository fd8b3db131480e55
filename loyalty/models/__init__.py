"""Every model, imported here so Alembic and the app see the whole schema."""

from loyalty.models.async_requests import AsyncKind, AsyncRequest, AsyncState
from loyalty.models.channel_events import Actor, ChannelEvent, ChannelEventKind
from loyalty.models.channels import (
    C2BVersion,
    ChannelStatus,
    ChannelType,
    Environment,
    HealthState,
    MpesaChannel,
    StepState,
    ValidationPolicy,
)
from loyalty.models.customers import (
    Balance,
    ConsentEvent,
    ConsentKind,
    ConsentSource,
    Customer,
)
from loyalty.models.experiments import (
    Experiment,
    ExperimentAssignment,
    ExperimentStatus,
    Method,
)
from loyalty.models.ledger import Adjustment, EntryKind, LedgerEntry, Redemption
from loyalty.models.merchants import (
    ApiKey,
    BusinessType,
    Merchant,
    PasswordReset,
    SenderId,
    SenderIdCategory,
    SenderIdState,
)
from loyalty.models.messages import (
    MessageKind,
    SkipReason,
    SmsDayCount,
    SmsMessage,
    SmsStatus,
)
from loyalty.models.payments import (
    CallbackLog,
    CallbackOutcome,
    Payment,
    PaymentRequest,
    PaymentRequestStatus,
    PaymentSource,
    PaymentStatus,
)
from loyalty.models.programs import DEFAULT_PROGRAM_CODE, LoyaltyProgram
from loyalty.models.reconciliation import ReconciliationRun, RunState, RunTrigger
from loyalty.models.reversals import Reversal, ReversalMethod, ReversalState
from loyalty.models.setup_templates import SetupApply
from loyalty.models.webhooks import (
    DeliveryStatus,
    EndpointState,
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "Actor", "ChannelEvent", "ChannelEventKind",
    "Adjustment", "AsyncKind", "AsyncRequest", "AsyncState",
    "Balance", "CallbackLog", "CallbackOutcome", "ConsentEvent", "ConsentKind",
    "ConsentSource", "Customer", "EntryKind", "Experiment", "ExperimentAssignment",
    "ExperimentStatus", "LedgerEntry", "Method",
    "MessageKind", "Payment", "PaymentRequest", "PaymentRequestStatus", "PaymentSource", "PaymentStatus",
    "Redemption", "Reversal", "ReversalMethod", "ReversalState", "SkipReason", "SmsDayCount", "SmsMessage",
    "SmsStatus",
    "ApiKey", "BusinessType", "C2BVersion", "ChannelStatus", "ChannelType", "DEFAULT_PROGRAM_CODE",
    "Environment", "HealthState", "LoyaltyProgram", "Merchant", "MpesaChannel",
    "PasswordReset", "StepState",
    "ValidationPolicy",
    "ReconciliationRun", "RunState", "RunTrigger",
    "DeliveryStatus", "EndpointState", "EventType", "WebhookAttempt", "WebhookDelivery",
    "WebhookEndpoint",
    "SetupApply",
    "SenderId", "SenderIdCategory", "SenderIdState",
]
