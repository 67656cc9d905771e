"""Watch: the folders' file events (native or polling, kept alive by a supervisor), coalesced into one
due path per save, handed to the root each path lies in."""
