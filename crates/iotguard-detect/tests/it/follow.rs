//! Following a live Zeek log folder through appends, rotation and restarts.
