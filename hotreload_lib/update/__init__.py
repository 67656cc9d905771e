"""Update a module: a tracked tree's loaded modules take the difference of their new source in place
(what changed, how it will go, what it does to the objects), and what builds the page is found."""
