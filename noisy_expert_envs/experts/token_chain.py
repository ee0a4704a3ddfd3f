"""The clean expert of ``TokenChainEnv``: the running-sum algorithm, conditioned on the prefix it sees."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from noisy_expert_envs.validation import check_int, check_real
from noisy_expert_envs.tasks.token_chain import MAX_LENGTH, MAX_VOCAB_SIZE


class TokenChainExpert:
    """The clean expert of :class:`~noisy_expert_envs.tasks.token_chain.TokenChainEnv`, batched, reading only the observation.

    It writes the prefix-conditioned next token ``(last written + prompt[t % prompt_length]) %
    vocab_size`` (0 as the last written token at ``t = 0``). At a terminal observation, where any
    action is moot, it returns the same formula as if the chain went on.

    :meth:`preferences` gives the teacher's logits over the next token, the structured mistakes of
    an arithmetic chain of thought: ``correct_logit`` (0) on the correct token; ``off_by_one_logit``
    on ``correct +- 1 (mod vocab_size)``; ``repeat_logit`` on the token just before the write
    position (copying the previous token: the last prompt token at ``t = 0``); ``other_logit`` on every
    other token. A token with several roles takes its highest logit, and the correct token always
    has the strictly highest logit, so any softmax of these logits (``noise="teacher"`` or
    ``"boltzmann"``, any temperature) keeps the clean token as its strict mode.

    Args:
        vocab_size, prompt_length, chain_length: those of the env.
        off_by_one_logit, repeat_logit, other_logit: finite logits below 0 (the correct token's).
    """

    correct_logit = 0.0

    def __init__(
        self,
        vocab_size: int,
        prompt_length: int,
        chain_length: int,
        *,
        off_by_one_logit: float = -2.5,
        repeat_logit: float = -3.0,
        other_logit: float = -6.0,
    ) -> None:
        self.vocab_size = check_int("vocab_size", vocab_size, minimum=2, maximum=MAX_VOCAB_SIZE)
        self.prompt_length = check_int("prompt_length", prompt_length, minimum=1, maximum=MAX_LENGTH)
        self.chain_length = check_int("chain_length", chain_length, minimum=1, maximum=MAX_LENGTH)
        for name, value in (("off_by_one_logit", off_by_one_logit), ("repeat_logit", repeat_logit),
                            ("other_logit", other_logit)):
            value = check_real(name, value)
            if not (math.isfinite(value) and value < self.correct_logit):
                raise ValueError(
                    f"{name} must be a finite number < {self.correct_logit} (the correct token's logit), "
                    f"got {value!r}"
                )
        self.off_by_one_logit = float(off_by_one_logit)
        self.repeat_logit = float(repeat_logit)
        self.other_logit = float(other_logit)

    def _parse(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: the correct next token, the token before the write position, and the position."""
        obs = np.asarray(obs)
        length = self.prompt_length + self.chain_length
        if obs.ndim != 2 or obs.shape[1] != length:
            raise ValueError(f"observations must have shape (batch, {length}), got {obs.shape}")
        tokens = np.rint(obs).astype(np.int64)
        rows = np.arange(len(tokens))
        position = (tokens[:, self.prompt_length :] != self.vocab_size).sum(axis=1)
        last_written = np.where(position > 0, tokens[rows, self.prompt_length + position - 1], 0)
        digit = tokens[rows, position % self.prompt_length]
        previous = tokens[rows, self.prompt_length + position - 1]  # last prompt token at t = 0
        return (last_written + digit) % self.vocab_size, previous, position

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self._parse(obs)[0]

    def preferences(self, obs: np.ndarray) -> np.ndarray:
        """Teacher logits, shape ``(B, vocab_size)`` (see the class docstring)."""
        correct, previous, _ = self._parse(obs)
        rows = np.arange(len(correct))
        logits = np.full((len(correct), self.vocab_size), self.other_logit)
        logits[rows, previous] = np.maximum(logits[rows, previous], self.repeat_logit)
        for offset in (1, -1):
            neighbour = (correct + offset) % self.vocab_size
            logits[rows, neighbour] = np.maximum(logits[rows, neighbour], self.off_by_one_logit)
        logits[rows, correct] = self.correct_logit
        return logits

    def __repr__(self) -> str:
        return (f"TokenChainExpert(vocab_size={self.vocab_size}, prompt_length={self.prompt_length}, "
                f"chain_length={self.chain_length}, off_by_one_logit={self.off_by_one_logit}, "
                f"repeat_logit={self.repeat_logit}, other_logit={self.other_logit})")


def token_chain_expert(env: Any) -> TokenChainExpert:
    """The clean expert of a constructed ``TokenChainEnv``, with the default teacher logits."""
    return TokenChainExpert(env.vocab_size, env.prompt_length, env.chain_length)
