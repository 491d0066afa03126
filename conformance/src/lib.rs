//! BRAiN conformance suite (skeleton).
