"""Neo4j operations besides loading: the local server and the Browser guide and style."""
