"""The voting machine: what it waits for (``board``), its Pub/Sub side (``voting``), the
ballot it asks for at start (``ballot``) and the run loop of ``election machine`` (``run``)."""
