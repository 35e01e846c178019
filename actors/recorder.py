"""The voting record service's actors, on a :class:`actors.recording.VoteRecorder`:
``record_votes`` and ``record_gave_up`` on the Dramatiq queue ``<ns>.recorder``
(``election worker recorder``)."""

from actors.recording import vote_recorder
from actors.service import declaring_role
from election.domain.routes import RECORDER

#: ``declare(broker, settings)``: the record service's actors, declared on ``broker``.
declare = declaring_role((RECORDER, vote_recorder))
