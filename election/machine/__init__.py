"""The voting machine: what it waits for (``board``), its Pub/Sub side (``voting``) and
the run loop of ``election machine`` (``run``)."""
