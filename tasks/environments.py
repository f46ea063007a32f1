"""The environments an agent network can act in, by name (see the protocol in :mod:`brian2learn.tasks.cartpole`).

- ``'cartpole'``: :class:`~brian2learn.tasks.cartpole.CartPole` (gymnasium's CartPole-v1 as Brian2 code);
- ``'cue-choice'``: :class:`~brian2learn.tasks.evidence_accumulation.CueChoice` (evidence accumulation with a
  reward for the correct side).
"""

from brian2learn.tasks import cartpole, evidence_accumulation

ENVIRONMENTS = {"cartpole": cartpole.CartPole, "cue-choice": evidence_accumulation.CueChoice}


def environment_class(name):
    """The class of environment ``name``; ``ValueError`` naming the known ones for any other name."""
    if name not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {name!r}; allowed: {', '.join(ENVIRONMENTS)}")
    return ENVIRONMENTS[name]


def make_environment(name, *args, **kwargs):
    """An environment ``name`` built with the arguments of its class."""
    return environment_class(name)(*args, **kwargs)
