// Throwaway in-process Neo4j (org.neo4j.test:neo4j-harness) for tests.
//
//   java -cp "<lib>/*" Launcher.java <workdir> <boltPort> <httpPort> <authDir>
//
// Binds 127.0.0.1 only, page cache 512 MiB, auth on: user neo4j gets its password from
// <authDir>/auth.ini, as `neo4j-admin dbms set-initial-password` writes it, so the server
// never runs with the default neo4j/neo4j. Bolt also speaks WebSocket and accepts any web
// page's Origin, so even a throwaway server must not run without auth. The HTTP API answers
// CORS requests for Browser's own origin only. Prints one line "NEO4J_READY bolt=... http=..."
// once Bolt and HTTP accept connections, then blocks until SIGTERM/SIGINT, when
// it closes the database (the harness deletes its own folder under <workdir>).

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;
import org.neo4j.io.ByteUnit;
import org.neo4j.server.configuration.ServerSettings;

public class Launcher {
    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: java -cp '<lib>/*' Launcher.java <workdir> <boltPort> <httpPort> <authDir>");
            System.exit(2);
        }
        Path workdir = Path.of(args[0]).toAbsolutePath();
        int boltPort = Integer.parseInt(args[1]);
        int httpPort = Integer.parseInt(args[2]);
        Path authDir = Path.of(args[3]).toAbsolutePath();
        if (!Files.isRegularFile(authDir.resolve("auth.ini"))) {
            System.err.println("no auth.ini in " + authDir + ": refusing to start a server without a password");
            System.exit(2);
        }
        Files.createDirectories(workdir);

        Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(workdir)
                .withConfig(GraphDatabaseSettings.default_listen_address, new SocketAddress("127.0.0.1"))
                .withConfig(GraphDatabaseSettings.default_advertised_address, new SocketAddress("localhost"))
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", boltPort))
                .withConfig(BoltConnector.advertised_address, new SocketAddress("localhost", boltPort))
                .withConfig(HttpConnector.enabled, true)
                .withConfig(HttpConnector.listen_address, new SocketAddress("127.0.0.1", httpPort))
                .withConfig(HttpConnector.advertised_address, new SocketAddress("localhost", httpPort))
                .withConfig(GraphDatabaseSettings.auth_enabled, true)
                .withConfig(GraphDatabaseInternalSettings.auth_store_directory, authDir)
                .withConfig(ServerSettings.http_access_control_allow_origin, "http://localhost:" + httpPort)
                .withConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(512))
                // Close Bolt at once on shutdown instead of 2 x 5 s quiet period (internal setting, seconds).
                .withConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                neo4j.close();
            } finally {
                stopped.countDown();
            }
        }, "neo4j-launcher-shutdown"));

        System.out.println("NEO4J_READY bolt=" + neo4j.boltURI() + " http=" + neo4j.httpURI());
        System.out.flush();
        stopped.await();
    }
}
