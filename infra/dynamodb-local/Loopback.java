// Starts AWS's DynamoDB Local bound to 127.0.0.1 only.
//
// DynamoDB Local has no option for the listening address and binds every
// interface, which would expose a developer's tables to the network. This
// launcher builds the server exactly as DynamoDBLocal.jar's own main does
// (same command-line arguments), sets the host of its one Jetty connector to
// loopback before it starts, and checks that it took. Run as a single-file
// source program (java Loopback.java ...) with the jar on the class path.
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class Loopback {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        Connector[] connectors = server.getConnectors();
        if (connectors.length == 0) {
            throw new IllegalStateException("DynamoDB Local has no connector to bind to loopback");
        }
        for (Connector connector : connectors) {
            if (!(connector instanceof ServerConnector)) {
                throw new IllegalStateException("unexpected connector " + connector.getClass() + ": refusing to listen on every interface");
            }
            ((ServerConnector) connector).setHost("127.0.0.1");
        }
        proxy.start();
        for (Connector connector : server.getConnectors()) {
            String host = ((ServerConnector) connector).getHost();
            if (!"127.0.0.1".equals(host)) {
                proxy.stop();
                throw new IllegalStateException("DynamoDB Local listens on " + host + ", not 127.0.0.1");
            }
        }
        System.out.println("DynamoDB Local listening on 127.0.0.1:" + ((ServerConnector) server.getConnectors()[0]).getLocalPort());
        proxy.join();
    }
}
