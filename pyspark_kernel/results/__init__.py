"""Finding what a cell produced and showing it: detection, preview, rendering, records."""
