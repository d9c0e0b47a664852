// Throwaway in-process Neo4j (org.neo4j.test:neo4j-harness) for tests.
//
//   java -cp "<lib>/*" Launcher.java <workdir> [boltPort] [httpPort]
//
// Binds 127.0.0.1 only, auth disabled, page cache 512 MiB. Ports default to
// 7687/7474. Prints one line "NEO4J_READY bolt=... http=..."
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

public class Launcher {
    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: java -cp '<lib>/*' Launcher.java <workdir> [boltPort] [httpPort]");
            System.exit(2);
        }
        Path workdir = Path.of(args[0]).toAbsolutePath();
        int boltPort = args.length > 1 ? Integer.parseInt(args[1]) : 7687;
        int httpPort = args.length > 2 ? Integer.parseInt(args[2]) : 7474;
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
                .withConfig(GraphDatabaseSettings.auth_enabled, false)
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
