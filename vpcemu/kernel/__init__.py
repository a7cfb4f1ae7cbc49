"""The only code that touches the system: namespaces, netlink, nft, captures, processes, the journal."""
