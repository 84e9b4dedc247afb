"""Adapts a PaymentGateway to the use cases' CheckoutGateway port."""

from payments.adapters.gateway.ports import CheckoutOrder as GatewayOrder
from payments.adapters.gateway.ports import PaymentGateway
from payments.service.ports import CheckoutOrder


class GatewayCheckout:
    def __init__(self, gateway: PaymentGateway) -> None:
        self._gateway = gateway

    @property
    def name(self) -> str:
        return self._gateway.name.upper()

    def checkout_url(self, order: CheckoutOrder) -> str:
        return self._gateway.checkout_url(
            GatewayOrder(
                order_ref=order.order_ref,
                amount_minor=order.amount_minor,
                description=order.description,
                created_at=order.created_at,
                expires_at=order.expires_at,
                client_ip=order.client_ip,
                locale=order.locale,
            )
        )
