"""planfirst as an Agent Client Protocol agent (`planfirst acp`): a second face over the core."""
