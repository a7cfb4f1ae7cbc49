"""Services that run inside lab namespaces: the lab CA, the AWS region, the VPC resolver."""


def bind_in(netns: str | None, bind_all, close_all) -> None:
    """Run `bind_all` with its sockets made in `netns` (here if None); on failure `close_all` and re-raise.

    A socket belongs to the namespace of the thread that creates it, so binding happens inside.
    """
    try:
        if netns is None:
            bind_all()
        else:
            from ..kernel.netns import run_in_netns
            run_in_netns(netns, bind_all)
    except BaseException:
        close_all()
        raise
