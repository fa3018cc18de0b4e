"""Virtual memory: physical frames, pmaps, objects and shadow chains, maps, the fault path."""
