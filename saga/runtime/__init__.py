"""The one consumer loop (poll, claim, handle, retry, dead-letter, commit, offsets) and what it
hosts: sagas and participants in a worker, or a plain inbox handler."""
