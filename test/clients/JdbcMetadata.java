/*
 * The PostgreSQL JDBC driver (Debian libpostgresql-jdbc-java) through the
 * proxy: DatabaseMetaData getCatalogs / getSchemas / getTables / getColumns /
 * getPrimaryKeys / getImportedKeys / getExportedKeys / getIndexInfo, a
 * PreparedStatement reused with different parameters (server-prepared from
 * the fifth execution on, prepareThreshold), and ResultSetMetaData type names
 * (the driver reads pg_type for types it does not know, e.g. the enum).
 * Connection from the libpq-style environment (PGHOST, PGPORT, PGUSER,
 * PGPASSWORD, PGDATABASE). One JSON line per check, as matrix_checks.py
 * prints them; nothing is asserted here.
 *
 * Run by single-file source launch (needs a JDK: the launcher compiles in
 * memory with jdk.compiler, which a JRE lacks):
 *   java -cp /usr/share/java/postgresql.jar JdbcMetadata.java
 */
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public class JdbcMetadata {
  interface Check {
    Object run() throws Exception;
  }

  public static void main(String[] args) throws Exception {
    String url = "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT") + "/"
        + System.getenv("PGDATABASE");
    Properties props = new Properties();
    props.setProperty("user", System.getenv("PGUSER"));
    props.setProperty("password", System.getenv("PGPASSWORD"));
    props.setProperty("sslmode", "disable");
    props.setProperty("ApplicationName", "rowgate-client-matrix");
    Connection[] holder = new Connection[1];
    if (!check("connect", () -> {
      holder[0] = DriverManager.getConnection(url, props);
      return holder[0].getMetaData().getDatabaseProductVersion();
    })) {
      return;
    }
    Connection conn = holder[0];
    DatabaseMetaData meta = conn.getMetaData();
    check("catalogs", () -> rows(meta.getCatalogs()));
    check("schemas", () -> rows(meta.getSchemas()));
    check("tables", () -> rows(meta.getTables(null, null, "%", new String[] {"TABLE", "VIEW"})));
    check("columns_customers", () -> rows(meta.getColumns(null, "public", "customers", "%")));
    check("columns_all_public", () -> rows(meta.getColumns(null, "public", "%", "%")));
    check("primary_keys_customers", () -> rows(meta.getPrimaryKeys(null, "public", "customers")));
    check("imported_keys_orders", () -> rows(meta.getImportedKeys(null, "public", "orders")));
    check("exported_keys_customers", () -> rows(meta.getExportedKeys(null, "public", "customers")));
    check("index_info_orders", () -> rows(meta.getIndexInfo(null, "public", "orders", false, false)));
    check("index_info_customers", () -> rows(meta.getIndexInfo(null, "public", "customers", false, false)));
    check("prepared_statement", () -> {
      List<Object> out = new ArrayList<>();
      try (PreparedStatement ps = conn.prepareStatement("SELECT name, email FROM customers WHERE id = ?")) {
        // The driver switches to a named server-side statement after prepareThreshold (5) runs.
        for (int i = 0; i < 7; i++) {
          ps.setInt(1, 1 + i % 3);
          out.add(rows(ps.executeQuery()));
        }
      }
      return out;
    });
    check("result_type_names", () -> {
      try (PreparedStatement ps = conn.prepareStatement("SELECT id, status, total FROM orders ORDER BY id")) {
        ResultSet rs = ps.executeQuery();
        ResultSetMetaData md = rs.getMetaData();
        List<Object> types = new ArrayList<>();
        for (int i = 1; i <= md.getColumnCount(); i++) {
          types.add(List.of(md.getColumnName(i), md.getColumnTypeName(i)));
        }
        return types;
      }
    });
    conn.close();
  }

  static boolean check(String name, Check check) {
    try {
      Object result = check.run();
      System.out.println("{\"check\": " + json(name) + ", \"ok\": true, \"result\": " + json(result) + "}");
      return true;
    } catch (Exception e) {
      String state = e instanceof SQLException ? ((SQLException) e).getSQLState() : null;
      String error = (state != null ? state + " " : "") + e.getClass().getSimpleName() + ": " + e.getMessage();
      System.out.println("{\"check\": " + json(name) + ", \"ok\": false, \"error\": " + json(error) + "}");
      e.printStackTrace();
      return false;
    } finally {
      System.out.flush();
    }
  }

  /** Every row of a result set, each as a list of its columns' string values. */
  static List<Object> rows(ResultSet rs) throws SQLException {
    List<Object> out = new ArrayList<>();
    try (rs) {
      int n = rs.getMetaData().getColumnCount();
      while (rs.next()) {
        List<Object> row = new ArrayList<>();
        for (int i = 1; i <= n; i++) row.add(rs.getString(i));
        out.add(row);
      }
    }
    return out;
  }

  static String json(Object value) {
    if (value == null) return "null";
    if (value instanceof List) {
      StringBuilder sb = new StringBuilder("[");
      for (Object item : (List<?>) value) {
        if (sb.length() > 1) sb.append(", ");
        sb.append(json(item));
      }
      return sb.append(']').toString();
    }
    StringBuilder sb = new StringBuilder("\"");
    for (char c : value.toString().toCharArray()) {
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
          else sb.append(c);
        }
      }
    }
    return sb.append('"').toString();
  }
}
