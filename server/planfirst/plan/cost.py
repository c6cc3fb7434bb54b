"""The cost estimate a plan carries: made before approval (core/planning/cost.py), kept for the summary."""

from __future__ import annotations

from pydantic import BaseModel, Field


def usd(x: float) -> str:
    """A dollar figure as people read it: cents from a dollar up, two significant digits below."""
    if x >= 1:
        return f"${x:,.2f}"
    if x < 0.0001:
        return "$0" if x <= 0 else "<$0.0001"
    return "$" + f"{x:#.2g}"


def usd_range(low: float, high: float) -> str:
    """`$0.012–$0.034`."""
    return f"{usd(low)}–{usd(high)}"


class StepCost(BaseModel):
    """One step's estimated cost (all its expected attempts), low to high, in US dollars."""

    order: int
    low: float
    high: float
    input_tokens: int = 0  # prompt tokens of the first request (high bound)
    sent: dict[str, str] = Field(default_factory=dict)  # path -> whole, outline…, missing


class CostEstimate(BaseModel):
    """The estimate of a plan's execution on one model, and what it was made from."""

    model: str
    low: float = 0.0  # the steps not yet done
    high: float = 0.0
    steps: list[StepCost] = Field(default_factory=list)
    attempts: float = 1.3  # expected attempts per step
    attempts_source: str = "default"  # "setting" | "default" | "learned from N steps"
    prices: str = ""  # e.g. "$2/$10 per million input/output tokens"
    prices_date: str = ""  # when the catalogue's prices were checked
    made_at: str = ""

    def step(self, order: int) -> StepCost | None:
        """The estimate of step `order`, if it has one."""
        return next((s for s in self.steps if s.order == order), None)

    def line(self) -> str:
        """One line for a header: range, model, prices and their date."""
        return (
            f"{usd_range(self.low, self.high)} on {self.model} "
            f"({self.attempts:g} attempts/step, {self.attempts_source}; "
            f"prices {self.prices}, catalogue of {self.prices_date})"
        )
