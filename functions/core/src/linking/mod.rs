//! Linking: the use cases between the two sides.
