package dev.merit.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.store.ObjectId;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.interactions.Actions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The review page in a real headless Chromium (Debian's chromium through its chromedriver)
 * against a real coordinator whose proposals arrive over gRPC. One browser serves the class; the
 * steps run in order, as a maintainer would work, and leave screenshots in
 * {@code target/review-page/} for people to look at.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReviewPageBrowserTest {

    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    static final Path SHOTS = Path.of("target", "review-page");

    ReviewFixture rf;
    ChromeDriver driver;
    WebDriverWait wait;
    Path dir;
    RemoteProposal first;
    RemoteProposal second;
    RemoteProposal opposite;
    RemoteProposal live;

    @BeforeAll
    void start(@TempDir Path tmp) throws IOException {
        dir = tmp;
        // The browser is part of the test bed (.ci/run installs it): missing means failing, not skipping.
        assertTrue(Files.isExecutable(CHROMIUM), CHROMIUM + " is missing: apt-get install chromium chromium-driver");
        assertTrue(Files.isExecutable(CHROMEDRIVER), CHROMEDRIVER + " is missing: apt-get install chromium-driver");
        Files.createDirectories(SHOTS);
        rf = new ReviewFixture(dir.resolve("coord"));
        Path tuned = Models.sparseTune(rf.headFile(), dir.resolve("first.safetensors"), 0.01, 11);
        first = rf.push(tuned);
        second = rf.push();
        opposite = rf.push(rf.opposite(tuned, dir.resolve("opposite.safetensors")));
        rf.publishScored("scored", 0.61, 0.58, 0.66);

        ChromeOptions o = new ChromeOptions();
        o.setBinary(CHROMIUM.toFile());
        o.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                "--user-data-dir=" + Files.createDirectories(dir.resolve("chrome-profile")), "--window-size=1280,900");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().withLogOutput(java.io.OutputStream.nullOutputStream()).build();
        driver = new ChromeDriver(service, o);
        wait = new WebDriverWait(driver, Duration.ofSeconds(20));
    }

    @AfterAll
    void stop() {
        try {
            if (driver != null) {
                driver.quit();
            }
        } finally {
            if (rf != null) {
                rf.close();
            }
        }
    }

    @Test
    @Order(1)
    void theListShowsPushedProposalsAndUpdatesWhenANewOneArrives() {
        driver.get(rf.base + "/");
        signIn(rf.fx.admin);
        row(first.id());
        row(second.id());
        row(opposite.id());
        assertTrue(row(first.id()).getText().contains("waiting"), "status is spelled out, not only coloured");
        assertFalse(driver.getCurrentUrl().contains(rf.fx.admin), "the token is never in the URL");
        assertEquals(rf.fx.admin, js("return sessionStorage.getItem('merit.token')"));
        assertEquals("", js("return document.cookie"));
        wait.until(d -> "open".equals(js("return document.body.dataset.events")));

        live = rf.push(); // over gRPC, while the page is open
        WebElement fresh = row(live.id());
        assertTrue(fresh.getText().contains("alice"));
        @SuppressWarnings("unchecked")
        List<String> urls = (List<String>) js("return performance.getEntriesByType('resource').map(e => e.name)");
        urls.forEach(u -> assertFalse(u.contains(rf.fx.admin), "token in a requested URL: " + u));
        assertTrue(urls.stream().allMatch(u -> u.startsWith(rf.base)), "everything comes from the coordinator: " + urls);
        assertTrue((Boolean) js("return document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling at 1280 px");
        shot("list");
    }

    @Test
    @Order(2)
    void theKeyboardReachesADetailWithPerTensorChartsAndAConflict() {
        driver.get(rf.base + "/#/proposals");
        WebElement link = row(first.id()).findElement(By.cssSelector("a.open"));
        // Tab from the top of the page to the proposal's link, then open it with Enter.
        driver.findElement(By.tagName("body")).click();
        boolean reached = false;
        for (int i = 0; i < 40 && !reached; i++) {
            new Actions(driver).sendKeys(Keys.TAB).perform();
            reached = link.equals(driver.switchTo().activeElement());
        }
        assertTrue(reached, "the proposal link is reachable with Tab");
        new Actions(driver).sendKeys(Keys.ENTER).perform();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("detail-title"), "Proposal " + first.id()));

        WebElement charts = driver.findElement(By.id("tensor-charts"));
        List<WebElement> svgs = charts.findElements(By.tagName("svg"));
        assertEquals(3, svgs.size(), "change norm, relative change, density");
        for (WebElement svg : svgs) {
            assertEquals(2, svg.findElements(By.cssSelector("rect.bar")).size(), "one bar per changed tensor");
            assertFalse(svg.getAttribute("aria-label").isEmpty());
        }
        assertTrue(driver.findElement(By.id("tensors")).getText().contains("big"));
        WebElement conflict = driver.findElement(By.cssSelector("#conflicts tr[data-other='" + opposite.id() + "']"));
        assertTrue(conflict.getText().contains("conflicts"), conflict.getText());
        assertTrue(conflict.getText().contains(" 0% "), "no sign agreement with the opposite change: " + conflict.getText());
        WebElement other = driver.findElement(By.cssSelector("#conflicts tr[data-other='" + second.id() + "']"));
        assertFalse(other.getText().contains("conflicts"), other.getText());
        assertTrue(driver.findElement(By.id("facts")).getText().contains("verified"));
        driver.manage().window().setSize(new Dimension(1280, 1600));
        shot("detail");
        driver.manage().window().setSize(new Dimension(1280, 900));
    }

    @Test
    @Order(3)
    void aMergePreviewShowsStatisticsWithoutCommitting() {
        ObjectId before = rf.fx.head();
        driver.get(rf.base + "/#/proposals");
        row(second.id()).findElement(By.cssSelector("input.pick")).click();
        row(live.id()).findElement(By.cssSelector("input.pick")).click();
        new org.openqa.selenium.support.ui.Select(driver.findElement(By.id("merge-strategy"))).selectByValue("ties");
        driver.findElement(By.id("preview-button")).click();
        WebElement facts = wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("preview-facts")));
        assertTrue(facts.getText().contains("Entries merged"), facts.getText());
        assertTrue(driver.findElement(By.id("preview")).getText().contains("nothing committed"));
        assertEquals(2, driver.findElements(By.cssSelector("#preview svg")).size());
        assertTrue(driver.findElement(By.id("preview-pairs")).getText().contains(second.id()));
        assertEquals(before, rf.fx.head(), "a preview commits nothing");
        shot("merge-preview");
    }

    @Test
    @Order(4)
    void aMaintainerRejectsOneAndApprovesAnotherThroughThePage() {
        ObjectId before = rf.fx.head();
        open(opposite.id());
        driver.findElement(By.id("reject")).click();
        assertTrue(wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("action-result"))).getText().contains("reason"),
                "rejecting without a reason is stopped on the page");
        driver.findElement(By.id("reject-reason")).sendKeys("undoes " + first.id());
        driver.findElement(By.id("reject")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("review-text"), "undoes " + first.id()));
        assertEquals("REJECTED", rf.fx.coord.proposals().store().get(opposite.id()).status().name());
        assertEquals(before, rf.fx.head());

        open(first.id());
        driver.findElement(By.id("approve-message")).sendKeys("fine");
        driver.findElement(By.id("approve")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("facts"), "merged"));
        ObjectId after = rf.fx.head();
        assertNotEquals(before, after);
        var commit = rf.fx.coord.repository().readCommit(after);
        assertTrue(commit.message().contains(first.id()), commit.message());
        assertTrue(commit.provenance().toString().contains("approved by admin: fine"));
        assertEquals("MERGED", rf.fx.coord.proposals().store().get(first.id()).status().name());
        assertTrue(driver.findElements(By.id("approve")).isEmpty(), "a merged proposal offers no actions");
    }

    @Test
    @Order(5)
    void theHistoryDrawsTheCommitGraph() {
        driver.get(rf.base + "/#/history");
        WebElement graph = wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("#commit-graph svg")));
        int versions = rf.fx.coord.repository().log(rf.fx.head(), 100).size();
        assertEquals(versions, graph.findElements(By.cssSelector("circle.commit")).size());
        assertEquals(versions - 1, graph.findElements(By.cssSelector("path.edge")).size());
        assertTrue(driver.findElement(By.id("versions")).getText().contains(first.id()));
        assertTrue(driver.findElement(By.id("score-chart")).getText().contains("No evaluation scores"),
                "without an evaluator there is no score to chart");
        driver.manage().window().setSize(new Dimension(1920, 1080));
        assertTrue((Boolean) js("return document.documentElement.scrollWidth <= window.innerWidth"));
        shot("history");
        driver.manage().window().setSize(new Dimension(1280, 900));

        // A branch whose versions recorded evaluation scores gets a chart of them.
        new org.openqa.selenium.support.ui.Select(driver.findElement(By.id("branch"))).selectByValue("scored");
        WebElement chart = wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("#score-chart svg")));
        assertEquals(3, chart.findElements(By.cssSelector("circle.pt")).size());
        assertTrue(chart.getText().contains("#2"), chart.getText());
        new org.openqa.selenium.support.ui.Select(driver.findElement(By.id("branch"))).selectByValue("main");
    }

    @Test
    @Order(6)
    void aReaderSeesThePageButCannotAct() {
        driver.get(rf.base + "/");
        // The button shows once the page has read its stored session: under load that is not at once.
        wait.until(ExpectedConditions.elementToBeClickable(By.id("sign-out"))).click();
        assertEquals(null, js("return sessionStorage.getItem('merit.token')"));
        signIn(rf.reader);
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("read-only")));
        assertTrue(driver.findElements(By.id("merge-panel")).isEmpty());
        assertTrue(driver.findElements(By.cssSelector("input.pick")).isEmpty());
        driver.get(rf.base + "/#/history");
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("#commit-graph svg")));
        // Acting anyway, from the page's own origin with the reader's token, is refused.
        Object status = ((JavascriptExecutor) driver).executeAsyncScript("""
                const done = arguments[arguments.length - 1];
                fetch('/api/proposals/%s/approve', {method: 'POST', headers: {'Authorization': 'Bearer ' + sessionStorage.getItem('merit.token'),
                  'Content-Type': 'application/json'}, body: '{}'}).then(r => done(r.status), e => done(String(e)));
                """.formatted(second.id()));
        assertEquals(403L, status);
        assertEquals("ACCEPTED", rf.fx.coord.proposals().store().get(second.id()).status().name());
    }

    private void signIn(String token) {
        WebElement field = wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("token")));
        field.sendKeys(token);
        driver.findElement(By.id("signin-button")).click();
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("who-name")));
    }

    private void open(String id) {
        driver.get(rf.base + "/#/proposals/" + id);
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("detail-title"), "Proposal " + id));
    }

    private WebElement row(String id) {
        return wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("#proposals tr[data-id='" + id + "']")));
    }

    private Object js(String script) {
        return ((JavascriptExecutor) driver).executeScript(script);
    }

    private void shot(String name) {
        try {
            Files.write(SHOTS.resolve(name + ".png"), ((TakesScreenshot) driver).getScreenshotAs(OutputType.BYTES));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
