"""Token chain: an autoregressive generation task, a small language model's world in one env."""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from noisy_expert_envs.validation import check_choice, check_int, check_positive, check_real
from noisy_expert_envs.noise.base import hash_to_unit, state_hash

#: Limits on the size arguments. Every observation holds ``prompt_length + chain_length`` int64
#: tokens and the oracle's probabilities and the teacher's logits ``vocab_size`` floats per
#: observation, so memory grows linearly with each; at the limits one observation is 160 kB and one
#: row of logits 80 kB (a learner that one-hot encodes the observation needs their product, which
#: is the learner's choice). The documented experiments use vocab_size <= 10 and chains <= 16.
MAX_VOCAB_SIZE = 10_000
MAX_LENGTH = 10_000


#: ``split`` values: every prompt (None), the training prompts, or the held-out evaluation prompts.
SPLITS = ("train", "eval")
#: Below this many possible prompts the split is enumerated at construction, so each side's share
#: is exact (above it, each side holds ~its fraction of over 100 000 prompts).
_ENUMERATE_LIMIT = 100_000
#: The smallest share of the prompts either side of a split may hold: a prompt is drawn uniformly
#: and redrawn until it is on the env's side, ~1/share draws per reset.
MIN_SIDE_FRACTION = 1e-3
#: The redraws one reset may take: with a side's share >= MIN_SIDE_FRACTION, running out has
#: probability below (1 - 1e-3) ** 100_000 ~ e**-100.
MAX_DRAWS = 100_000
DEFAULT_EVAL_FRACTION = 0.2
DEFAULT_SPLIT_SEED = 0


def prompt_split(prompt: np.ndarray, split_seed: int, eval_fraction: float) -> str:
    """``"eval"`` or ``"train"``: the side of the seeded split ``prompt`` falls on.

    The project's seeded state hash (:func:`~noisy_expert_envs.noise.base.state_hash`) of the
    prompt digits, read as a number in [0, 1), is compared with ``eval_fraction``: the same prompt
    always lands on the same side for a seed, a fraction ``eval_fraction`` of all prompts is held
    out (in expectation), and the sides do not depend on the episode RNG.
    """
    return str(_sides(np.asarray(prompt, dtype=np.int64).reshape(1, -1), split_seed, eval_fraction)[0])


def _sides(prompts: np.ndarray, split_seed: int, eval_fraction: float) -> np.ndarray:
    """``prompt_split`` of each row of ``prompts``."""
    held_out = hash_to_unit(state_hash(prompts, split_seed)) < eval_fraction
    return np.where(held_out, "eval", "train")


@functools.lru_cache(maxsize=64)
def _side_fractions(vocab_size: int, prompt_length: int, split_seed: int, eval_fraction: float) -> dict[str, float]:
    """The share of all prompts on each side of the split: exact (enumerated) for small prompt sets,
    the expected ``eval_fraction`` and ``1 - eval_fraction`` above :data:`_ENUMERATE_LIMIT` (cached:
    envs are built per evaluation episode)."""
    n_prompts = vocab_size**prompt_length
    if n_prompts > _ENUMERATE_LIMIT:
        return {"train": 1.0 - eval_fraction, "eval": eval_fraction}
    digits = np.stack(np.unravel_index(np.arange(n_prompts), (vocab_size,) * prompt_length), axis=1)
    held_out = float(np.mean(_sides(digits, split_seed, eval_fraction) == "eval"))
    return {"train": 1.0 - held_out, "eval": held_out}


def running_sums(prompt: np.ndarray, chain_length: int, vocab_size: int) -> np.ndarray:
    """The target chain of ``prompt``: ``s_t = (s_{t-1} + prompt[t % len(prompt)]) % vocab_size``
    for ``t = 0..chain_length-1`` with ``s_{-1} = 0``; its last entry is the true answer."""
    prompt = np.asarray(prompt, dtype=np.int64)
    cycled = prompt[np.arange(chain_length) % len(prompt)]
    return np.cumsum(cycled) % vocab_size


class TokenChainEnv(gym.Env[np.ndarray, np.int64]):
    """
    ## Description
    Autoregressive generation, like a language model writing a chain of thought. Each episode shows
    a prompt of ``prompt_length`` digits in ``[0, vocab_size)``; the agent then writes
    ``chain_length`` tokens, one per step. The target chain is the running sum, modulo
    ``vocab_size``, of the prompt digits cycled::

        s_t = (s_{t-1} + prompt[t % prompt_length]) % vocab_size,   t = 0..chain_length-1,  s_{-1} = 0

    and its last token ``s_{chain_length-1}`` is the answer. The clean expert
    (:class:`noisy_expert_envs.experts.token_chain.TokenChainExpert`) runs this algorithm *conditioned on the prefix it sees*: its next
    token is ``(w_{t-1} + prompt[t % prompt_length]) % vocab_size``, where ``w_{t-1}`` is the token
    actually written at step ``t-1`` (``w_{-1} = 0``), not the true running sum. After a wrong token
    it continues from what was written, as a language model continues its own text, so a single
    wrong token makes the final answer wrong. (Errors are additive: with ``e_t = w_t -`` the
    prefix-conditioned correct token, the answer is right exactly when ``sum_t e_t = 0 mod
    vocab_size``, so two mistakes can cancel, as they can in a real chain of thought.)

    A noisy teacher that writes the prefix-conditioned token with probability ``p`` per step gets
    the whole chain right with probability about ``p ** chain_length``: offline demonstrations of
    deep, correct prefixes are exponentially rare, while a learner that already writes the first
    ``t`` tokens correctly reaches every depth-``t`` prefix itself and can ask the teacher there.

    ## Action Space
    ``Discrete(vocab_size)``: the next token.

    ## Observation Space
    ``MultiDiscrete([vocab_size + 1] * (prompt_length + chain_length))``, int64: the prompt tokens,
    then the tokens written so far, then padding with the pad id ``vocab_size``. The number of
    non-pad tokens after the prompt is the position ``t``, so the observation fully determines the
    state (SB3 policies one-hot encode each entry).

    ## Rewards
    Outcome reward: at the last step, 1.0 if the last written token equals the true answer
    ``s_{chain_length-1}`` (the token the clean expert writes when it acts from the start), else 0.
    Optional process reward: ``process_reward`` at every step whose token equals the
    prefix-conditioned correct token. The clean expert's return is ``1 + chain_length *
    process_reward``. A uniformly random policy writes a uniform last token, so it solves a fraction
    ``1 / vocab_size`` of the prompts (the outcome return to normalize against).

    ## Starting State
    The prompt, drawn uniformly from the episode's RNG (``reset(seed=...)`` fixes it), and no
    generated tokens.

    ## Episode End
    Terminates after ``chain_length`` tokens, always (there is no early termination, so episodes of
    every policy have the same length). The id is registered with ``max_episode_steps=None``: the
    episode ends by itself, and a ``TimeLimit`` at a fixed registered length would be wrong for any
    other ``chain_length`` (and redundant, reporting ``truncated`` together with ``terminated``).

    ## Arguments
    - ``chain_length`` (int in [1, 10_000], default 8): tokens to write, the horizon.
    - ``vocab_size`` (int in [2, 10_000], default 10): tokens ``0..vocab_size-1``; ``vocab_size`` is
      the pad id.
    - ``prompt_length`` (int in [1, 10_000], default 4): prompt digits, cycled when ``chain_length``
      is longer.
    - ``process_reward`` (float >= 0, default 0.0): reward per prefix-correct token.
    - ``split`` (``None``, ``"train"`` or ``"eval"``, default None): draw prompts from all prompts,
      or only from the training or the held-out evaluation side of a seeded split
      (:func:`prompt_split`; a prompt is drawn uniformly, then redrawn until it is on the side, at
      most ``MAX_DRAWS`` times). ``baselines`` trains on ``"train"`` and evaluates on ``"eval"`` when
      given ``split="train"``. Each side must hold at least one prompt and a share of at least
      ``MIN_SIDE_FRACTION`` (1/1000) of them, checked at construction.
    - ``eval_fraction`` (float in (0, 1), default 0.2): the fraction of prompts held out.
    - ``split_seed`` (int >= 0, default 0): the seed of the split's hash.
      ``eval_fraction`` and ``split_seed`` other than their defaults need ``split="train"`` or
      ``"eval"`` (with ``split=None`` they would mean nothing, so they are refused).
    - ``render_mode``: ``None`` or ``"ansi"``.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        chain_length: int = 8,
        vocab_size: int = 10,
        prompt_length: int = 4,
        process_reward: float = 0.0,
        split: str | None = None,
        eval_fraction: float = DEFAULT_EVAL_FRACTION,
        split_seed: int = DEFAULT_SPLIT_SEED,
        render_mode: str | None = None,
    ) -> None:
        self.chain_length = check_int("chain_length", chain_length, minimum=1, maximum=MAX_LENGTH)
        self.vocab_size = check_int("vocab_size", vocab_size, minimum=2, maximum=MAX_VOCAB_SIZE)
        self.prompt_length = check_int("prompt_length", prompt_length, minimum=1, maximum=MAX_LENGTH)
        self.process_reward = check_positive("process_reward", process_reward, allow_zero=True)
        self.split = None if split is None else check_choice("split", split, SPLITS)
        self.eval_fraction = check_real("eval_fraction", eval_fraction)
        if not 0.0 < self.eval_fraction < 1.0:
            raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction!r}")
        self.split_seed = check_int("split_seed", split_seed, minimum=0)
        if self.split is not None:
            self._check_split_sides()
        else:
            self._check_no_split_arguments()
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self.pad_id = self.vocab_size
        length = self.prompt_length + self.chain_length
        self.observation_space = spaces.MultiDiscrete(np.full(length, self.vocab_size + 1, dtype=np.int64))
        self.action_space = spaces.Discrete(self.vocab_size)
        self.tokens = np.full(length, self.pad_id, dtype=np.int64)
        self.position = 0

    def _check_no_split_arguments(self) -> None:
        """``ValueError`` naming ``eval_fraction``/``split_seed`` given (not the defaults) with ``split=None``."""
        given = [f"{name}={value!r}" for name, value, default in (
            ("eval_fraction", self.eval_fraction, DEFAULT_EVAL_FRACTION),
            ("split_seed", self.split_seed, DEFAULT_SPLIT_SEED)) if value != default]
        if given:
            raise ValueError(f"{', '.join(given)} given with split=None, where no split is made: they need "
                             f"split='train' or split='eval'")

    def _check_split_sides(self) -> None:
        """``ValueError`` if a side of the split holds no prompt, or less than :data:`MIN_SIDE_FRACTION` of them."""
        fractions = _side_fractions(self.vocab_size, self.prompt_length, self.split_seed, self.eval_fraction)
        n_prompts = self.vocab_size**self.prompt_length
        setting = (f"with vocab_size={self.vocab_size}, prompt_length={self.prompt_length} ({n_prompts} prompts), "
                   f"split_seed={self.split_seed} and eval_fraction={self.eval_fraction}")
        empty = [side for side, fraction in fractions.items() if fraction == 0.0]
        if empty:
            raise ValueError(f"{setting} every prompt is on the {SPLITS[1 - SPLITS.index(empty[0])]!r} side: use more "
                             f"prompts (a larger vocab_size or prompt_length) or another split")
        side, fraction = min(fractions.items(), key=lambda item: item[1])
        if fraction < MIN_SIDE_FRACTION:
            raise ValueError(f"{setting} the {side!r} side holds a share {fraction:.3g} of the prompts, below the "
                             f"minimum {MIN_SIDE_FRACTION} (prompts are redrawn until on the env's side): use "
                             f"eval_fraction in [{MIN_SIDE_FRACTION}, {1 - MIN_SIDE_FRACTION}]")

    def _draw_prompt(self) -> np.ndarray:
        """A uniform prompt on this env's side of the split (all prompts with ``split=None``)."""
        for _ in range(MAX_DRAWS):
            prompt = self.np_random.integers(self.vocab_size, size=self.prompt_length)
            if self.split is None or prompt_split(prompt, self.split_seed, self.eval_fraction) == self.split:
                return prompt
        raise RuntimeError(f"drew {MAX_DRAWS} prompts and none was on the {self.split!r} side of the split "
                           f"(eval_fraction={self.eval_fraction}, split_seed={self.split_seed})")

    @property
    def prompt(self) -> np.ndarray:
        """The current episode's prompt digits."""
        return self.tokens[: self.prompt_length].copy()

    @property
    def written(self) -> np.ndarray:
        """The tokens written so far in the current episode."""
        return self.tokens[self.prompt_length : self.prompt_length + self.position].copy()

    @property
    def true_answer(self) -> int:
        """The correct final token of the current prompt."""
        return int(running_sums(self.prompt, self.chain_length, self.vocab_size)[-1])

    def next_correct_token(self) -> int:
        """The prefix-conditioned correct token at the current position (what the clean expert writes)."""
        last = int(self.tokens[self.prompt_length + self.position - 1]) if self.position > 0 else 0
        return (last + int(self.tokens[self.position % self.prompt_length])) % self.vocab_size

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.tokens[:] = self.pad_id
        self.tokens[: self.prompt_length] = self._draw_prompt()
        self.position = 0
        return self.tokens.copy(), {"position": 0}

    def step(self, action: np.int64) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.position >= self.chain_length:
            raise RuntimeError("step() called on a terminated episode; call reset()")
        token = int(action)
        if not 0 <= token < self.vocab_size:
            raise ValueError(
                f"action {action!r} is not a token of {self.action_space}: expected 0..{self.vocab_size - 1}"
            )
        step_correct = token == self.next_correct_token()
        self.tokens[self.prompt_length + self.position] = token
        self.position += 1
        reward = self.process_reward if step_correct else 0.0
        info: dict[str, Any] = {"position": self.position, "step_correct": step_correct}
        terminated = self.position == self.chain_length
        if terminated:
            answer = self.true_answer
            info.update(answer=token, true_answer=answer, solved=bool(token == answer), is_success=bool(token == answer))
            reward += float(token == answer)
        return self.tokens.copy(), float(reward), terminated, False, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        width = len(str(self.vocab_size - 1))

        def show(tok: int) -> str:
            return "_" * width if tok == self.pad_id else str(int(tok)).rjust(width)

        prompt = " ".join(show(t) for t in self.tokens[: self.prompt_length])
        chain = " ".join(show(t) for t in self.tokens[self.prompt_length :])
        return f"prompt {prompt} | {chain}"
